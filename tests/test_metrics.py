import numpy as np
import pytest

from alignclf.metrics import apply_thresholds, score, tune_thresholds
from alignclf.taxonomy import Taxonomy

TAXONOMY = Taxonomy.from_dict({"pillars": [{"name": "p1"}, {"name": "p2"}], "sectors": [{"name": "s1"}]})


def test_scores_match_hand_computed_values():
    truth = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 0, 1]])
    pred = np.array([[1, 1, 1], [0, 1, 0], [0, 1, 1], [1, 0, 0]])
    report = score(truth, pred, TAXONOMY)
    p1, p2, s1 = report.labels
    # p1: tp=1 fp=1 fn=1 -> P=R=F1=0.5
    assert (p1.precision, p1.recall, p1.f1, p1.support) == (0.5, 0.5, 0.5, 2)
    # p2: tp=2 fp=1 fn=0 -> P=2/3, R=1, F1=0.8
    assert p2.precision == pytest.approx(2 / 3, abs=1e-6) and p2.recall == 1.0 and p2.f1 == pytest.approx(0.8)
    # s1: tp=1 fp=1 fn=1 -> 0.5
    assert s1.f1 == 0.5
    # pillars micro: tp=3 fp=2 fn=1 -> P=0.6 R=0.75 F1=2/3
    assert report.averages["pillars"]["micro_f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert report.averages["pillars"]["macro_f1"] == pytest.approx(0.65)
    assert report.averages["sectors"] == {"micro_f1": 0.5, "macro_f1": 0.5}
    assert report.flat("test.")["test.pillars.macro_f1"] == pytest.approx(0.65)


def test_label_without_support_or_predictions_scores_zero():
    report = score(np.zeros((2, 3)), np.zeros((2, 3)), TAXONOMY)
    assert all(item.f1 == 0 for item in report.labels)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape mismatch"):
        score(np.zeros((2, 3)), np.zeros((2, 2)), TAXONOMY)


def test_thresholds_maximise_each_labels_f1():
    scores = np.array([[0.1, 0.9], [0.35, 0.8], [0.6, 0.2], [0.7, 0.3]])
    truth = np.array([[0, 1], [1, 1], [1, 0], [1, 0]])
    thresholds = tune_thresholds(scores, truth)
    assert thresholds[0] == pytest.approx(0.225)  # midpoint between 0.1 and 0.35 catches all positives
    assert thresholds[1] == 0.5  # every cut in (0.3, 0.8) is perfect; ties go to the default
    assert apply_thresholds(scores, thresholds).tolist() == truth.tolist()


def test_thresholds_stay_in_range_and_default_without_positives():
    rng = np.random.default_rng(0)
    scores = rng.random((200, 3)) ** 4  # mostly tiny scores tempt a threshold below the minimum
    truth = (rng.random((200, 3)) < 0.3).astype(int)
    truth[:, 2] = 0
    thresholds = tune_thresholds(scores, truth, default=0.5, minimum=0.05, maximum=0.95)
    assert np.all((thresholds >= 0.05) & (thresholds <= 0.95))
    assert thresholds[2] == 0.5


def test_article_choices_a_label_or_two_apart_are_ties_kept_by_the_earlier_candidate():
    from alignclf.decision import ArticleDecision, Tuned, preferred

    decision = ArticleDecision("max", np.array([0.5]), np.array([0.5]))
    first, close, noisy = Tuned(decision, 0.950, 0.01), Tuned(decision, 0.9515, 0.02), Tuned(decision, 0.99, 0.08)
    assert preferred([first, close, noisy], budget=0.05, tie_margin=0.002) is first  # `noisy` is over the budget
    assert preferred([first, close], budget=0.05, tie_margin=0.0) is close
    clear = Tuned(decision, 0.954, 0.0)
    assert preferred([first, close, clear], budget=0.05, tie_margin=0.002) is clear
    assert preferred([noisy, Tuned(decision, 0.9, 0.5)], budget=0.05, tie_margin=0.002) is noisy  # none within: best F1
