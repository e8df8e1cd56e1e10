"""Clinical need: comorbidity and frailty scores from the code lists in ``openphm.codelists``.

- ``scores``: one row per person with every score, for a whole population in one pass;
- ``conditions``: the categories each person has, after the window and hierarchy;
- ``score_file``: the same for an analyst's own CSV or Parquet file of diagnoses.
"""

from openphm.need.files import FileScores, read_diagnoses, score_file
from openphm.need.matching import clean_icd10, code_categories
from openphm.need.scores import conditions, scores, window_start

__all__ = [
    "FileScores",
    "clean_icd10",
    "code_categories",
    "conditions",
    "read_diagnoses",
    "score_file",
    "scores",
    "window_start",
]
