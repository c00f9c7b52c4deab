"""`python -m explorer.serving`: write the HAProxy and supervisord configs for `make serve`."""

from explorer.serving import main

main()
