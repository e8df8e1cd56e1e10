"""Standard populations for direct standardisation.

The European Standard Population 2013 (Eurostat 2013, revision of the 1976 ESP): 19
age bands, five-year bands from 0-4 to 85-89 and an open band 90+, totalling 100,000.
The weights are the ones PHEindicatormethods ships as ``esp2013``.
"""

from __future__ import annotations

ESP2013_AGE_BANDS = (
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49",
    "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+",
)  # fmt: skip

ESP2013 = (
    5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
    7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000,
)  # fmt: skip
