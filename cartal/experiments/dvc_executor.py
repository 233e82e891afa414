"""DVC's experiment executor, without its per-stage index rebuild.

After each stage, DVC's executor stages the stage's files in git. To leave out
the dependencies that DVC tracks itself it asks, for each dependency, whether
it is a DVC output, and each answer rebuilds the index of every dvc.yaml and
dvc.lock in the project (`dvc.stage.utils._get_stage_files`; upstream
treeverse/dvc#8809). With a pipeline of 185 stages that nearly doubles the time
of an experiment; bench/results.md, section 2b, has the figures with and without
the lookup below.

The pipeline does not change while an experiment runs, so the set of outputs it
declares is read once per executor and the same question is answered from it.
The files staged are the same as DVC's (tests/test_dvc_executor.py compares
them). `cartal reproduce` runs its queue workers' executors through ``main``
(see ``dvc_queue.executor_path``); CARTAL_PATCH_DVC_EXECUTOR=0 turns it off.
"""

from __future__ import annotations

import os
import sys
import warnings

_outputs: dict[str, frozenset[str]] = {}


def declared_outputs(repo) -> frozenset[str]:
    """The paths of the outputs in DVC's cache that the repository's pipeline declares, read once per
    repository root. An output with `cache: false` is left to git, as DVC's lookup leaves it."""
    if repo.root_dir not in _outputs:
        _outputs[repo.root_dir] = frozenset(os.path.abspath(out.fs_path) for out in repo.index.outs if out.use_cache)
    return _outputs[repo.root_dir]


def stage_files(stage) -> list[str]:
    """What DVC's `_get_stage_files` returns: the stage's dvc.yaml and dvc.lock, the dependencies that are
    not DVC outputs, and the outputs; the dependency test answered from ``declared_outputs``."""
    from dvc.dvcfile import ProjectFile
    from dvc.utils import relpath

    files = [stage.dvcfile.relpath]
    if isinstance(stage.dvcfile, ProjectFile):
        files.append(stage.dvcfile._lockfile.relpath)
    outputs = declared_outputs(stage.repo)
    files += [relpath(dep.fs_path) for dep in stage.deps
              if not dep.use_scm_ignore and dep.is_in_repo and os.path.abspath(dep.fs_path) not in outputs]
    files += [relpath(out.fs_path) for out in stage.outs if not out.use_scm_ignore and out.is_in_repo]
    return files


def install() -> bool:
    """Replace DVC's lookup with ``stage_files``; False (and DVC left as it is) where the user turned the
    replacement off, or where this DVC has no such function (with a warning, which a queue worker's log shows).
    DVC's executor imports the function from its module each time it stages a stage's files, which is what makes
    the replacement apply; tests/test_dvc_executor.py fails when an experiment run no longer calls it."""
    if os.environ.get("CARTAL_PATCH_DVC_EXECUTOR", "1") == "0":
        return False
    import dvc
    import dvc.stage.utils

    if not callable(getattr(dvc.stage.utils, "_get_stage_files", None)):
        warnings.warn(f"DVC {dvc.__version__} has no dvc.stage.utils._get_stage_files, so cartal's faster stage-file "
                      "lookup is off and queued experiments run at DVC's own speed; install a DVC in the range of "
                      "cartal's pyproject.toml", RuntimeWarning, stacklevel=2)
        return False
    dvc.stage.utils._get_stage_files = stage_files
    return True


def main() -> None:
    """`dvc` with the replacement installed: the command a queue worker runs for each experiment."""
    install()
    from dvc.cli import main as dvc_main

    sys.exit(dvc_main(sys.argv[1:]))


if __name__ == "__main__":
    main()
