"""Clinical need from coded records, with the definitions in ``openphm.codelists``.

- ``scores``: one row per person with every score, for a whole population in one pass;
- ``conditions``: the categories each person has, after the window and hierarchy;
- ``first_recorded`` and ``condition_flags``: the same with the day each was first
  recorded, and as one row per person (long-term conditions: ``ltc_diabetes``,
  ``ltc_diabetes_first``);
- ``score_file``: the scores for an analyst's own CSV or Parquet file of diagnoses;
- ``segments``, ``core20plus5``: Bridges to Health segments and Core20PLUS5 flags, rules
  as data; ``stage``: the need stage, which puts them all in ``person_need``.
"""

from openphm.need.files import FileScores, read_diagnoses, score_file
from openphm.need.flags import condition_flags
from openphm.need.matching import clean_icd10, code_categories
from openphm.need.scores import conditions, first_recorded, resolve, scores, window_start

__all__ = [
    "FileScores",
    "clean_icd10",
    "code_categories",
    "condition_flags",
    "conditions",
    "first_recorded",
    "read_diagnoses",
    "resolve",
    "score_file",
    "scores",
    "window_start",
]
