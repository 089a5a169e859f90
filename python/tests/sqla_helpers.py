"""Fixtures shared by the SQLAlchemy tests: the nuPlan-shaped log and the ORM
shapes of python/benchmarks/nuplan_orm.py."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))

import nuplan_orm  # noqa: E402,F401  (python/benchmarks/nuplan_orm.py)
