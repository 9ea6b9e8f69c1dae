"""Models-from-code entry point that MLflow executes when it loads a logged alignclf model."""

import mlflow.models

from alignclf.pyfunc import TaggerModel

mlflow.models.set_model(TaggerModel())
