"""alignclf: tags news text by the pillars and sectors of a policy cooperation framework.

>>> import alignclf
>>> tagger = alignclf.load_model(tiny_model_folder)
>>> tagger.predict(["Police seized 300 kg of heroin at the border."])[0].pillars
['security']
"""

from alignclf.resolve import load_model, predict
from alignclf.tagger import Prediction, Tagger

__all__ = ["Prediction", "Tagger", "load_model", "predict"]
