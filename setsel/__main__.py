import sys

from setsel.cli import main

sys.exit(main())
