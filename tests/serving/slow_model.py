"""A pyfunc model from code for the serving tests: sleeps as many seconds as its input's `seconds` column says,
then answers twice that value (the runtime's timeout and draining tests need a request that takes a while)."""
import time

import mlflow
from mlflow.pyfunc import PythonModel


class SlowModel(PythonModel):
    def predict(self, context, model_input, params=None):
        time.sleep(float(model_input["seconds"].max()))
        return (model_input["seconds"] * 2).tolist()


mlflow.models.set_model(SlowModel())
