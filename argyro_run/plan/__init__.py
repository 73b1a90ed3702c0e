"""Planner: validated configuration -> DAG of ``Task``s (see ``build_plan``)."""

from argyro_run.plan.build import Plan, build_plan, task_seed
from argyro_run.plan.kinds import TASK_KINDS
from argyro_run.plan.task import Task, content_hash

__all__ = ["Plan", "Task", "TASK_KINDS", "build_plan", "content_hash", "task_seed"]
