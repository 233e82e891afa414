"""Thin entry points of the DVC stages: read params and artifacts, call cartal, write artifacts.

`cartal <stage>` imports these modules from the project root; dvc.yaml names
them as dependencies, so editing a stage reruns it.
"""
