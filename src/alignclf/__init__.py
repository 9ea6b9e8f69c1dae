"""alignclf: tags news text by the pillars and sectors of a policy cooperation framework.

>>> import alignclf
>>> tagger = alignclf.load_model("models/tfidf")  # doctest: +SKIP
>>> tagger.predict(["Police seized 300 kg of heroin at the border."])[0].pillars  # doctest: +SKIP
['security']
"""

from alignclf.tagger import Prediction, Tagger, load_model, predict

__all__ = ["Prediction", "Tagger", "load_model", "predict"]
