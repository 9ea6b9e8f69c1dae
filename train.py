"""Train an alignclf model: `python train.py --config configs/tfidf.yaml [key.sub=value ...]`."""

import sys

from alignclf.training import main

if __name__ == "__main__":
    sys.exit(main())
