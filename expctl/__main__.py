"""`python -m expctl` is the same as the `expctl` command."""

from expctl.cli import main

main()
