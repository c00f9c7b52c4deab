"""Full SHA-256 digests of published weights files, by file name, where the project knows them.

torchvision names each file after only the first 8 hex digits of its SHA-256
(`resnet18-f37072fd.pth`); 32 bits stop an accident, not someone who searched for a file that
shares them. A digest listed here is checked in full, all 64 hex digits, at every download and
at the first use of the cached file in each process (`explorer.models.weights`).

Record a digest only from the real file, never from memory or a guess: on a machine that holds
the file torchvision publishes, `sha256sum resnet18-f37072fd.pth`, or copy the `.sha256` file
the app writes beside a downloaded file (the first token is the digest). An entry must start
with the prefix in its file's name; `tests/test_weights.py` checks that every entry does.

None is recorded yet: the machine this table was written on could not fetch the files. Files
not listed here are trusted on first verified use instead (see `explorer.models.weights`).
"""

from __future__ import annotations

#: file name -> its full SHA-256, 64 lowercase hex digits.
SHA256: dict[str, str] = {}
