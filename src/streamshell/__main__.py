"""``python -m streamshell``: the same as the ``streamshell`` command."""

from .cli import main

raise SystemExit(main())
