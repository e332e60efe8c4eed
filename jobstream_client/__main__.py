import sys

from jobstream_client.cli import main

sys.exit(main())
