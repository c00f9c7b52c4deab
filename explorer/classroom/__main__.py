"""`python -m explorer.classroom set-passphrase`: store the teacher's passphrase, hashed."""

from __future__ import annotations

import argparse
import getpass
import sys

from explorer.classroom import teacher
from explorer.training import runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explorer.classroom")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("set-passphrase", help="ask for the teacher's passphrase and store its "
                                          "scrypt hash in the passphrase file")
    sub.add_parser("hash-passphrase", help="print the hash, for secrets.toml's "
                                           "[explorer] teacher_passphrase_hash")
    args = parser.parse_args(argv)
    passphrase = (getpass.getpass("Teacher passphrase: ") if sys.stdin.isatty()
                  else sys.stdin.readline().rstrip("\n"))
    if sys.stdin.isatty() and getpass.getpass("Again: ") != passphrase:
        print("The two passphrases differ; nothing was stored.", file=sys.stderr)
        return 1
    try:
        if args.command == "hash-passphrase":
            print(teacher.hash_passphrase(passphrase))
        else:
            path = teacher.write_passphrase_file(passphrase, runs.runs_dir())
            print(f"Stored the passphrase's hash in {path} (mode 0600).")
    except ValueError as err:
        print(f"{err}; nothing was stored.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
