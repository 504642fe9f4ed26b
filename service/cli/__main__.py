"""`python -m service.cli`: the same as the `safeguard` command."""

from service.cli import main

main()
