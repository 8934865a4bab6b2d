"""`python -m workbench.cli` (also what `torchrun -m workbench.cli` runs)."""
import sys

from workbench.cli.main import main

sys.exit(main())
