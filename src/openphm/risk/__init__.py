"""Risk stratification by need, its equity audit and fair shares (the risk stage).

- ``features``: what is known about each person at monthly index dates;
- ``labels``: the outcome (an emergency admission or death in 12 months, SPARRA v4)
  and next year's cost;
- ``splines``, ``model``: penalised logistic regression on restricted cubic splines,
  fitted in Python and scored in the engine from its coefficients as data, with each
  person's three main factors;
- ``performance``, ``tiers``: validation on a later window, and the risk tiers;
- ``equity``: the same features fitted to cost, and where each ranking leaves people;
- ``fair_shares``: a needs-weighted capitation index and a fixed budget divided by it;
- ``cohort``: declarative filters to a gated profile (and ids for direct care only);
- ``stage``: the stage that runs them all.
"""
