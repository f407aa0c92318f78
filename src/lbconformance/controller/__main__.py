import sys

from lbconformance.controller import main

sys.exit(main())
