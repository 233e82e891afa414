"""A human round's batch in a running Label Studio, through its official SDK (``label-studio-sdk``).

With ``label_studio.url`` set in params.yaml, the batch that select picked goes to a Label Studio project as
tasks (the same tasks :func:`cartal.annotation.label_studio.tasks_from_batch` writes to tasks.json: the
model's suggestion as a pre-annotation, its score shown), and the annotations come back from the server
instead of from an export saved by hand. Everything that is not talking to the server is left to the pure
functions of :mod:`cartal.annotation.label_studio` and to the checks of :mod:`cartal.annotation.batch`, so
that a label read from the server and one read from export.json obey the same rules.

The SDK talks HTTP; the server runs wherever the user runs it (its own virtualenv, a container, a team's
host). The token is read from an environment variable named in params.yaml and never written anywhere.
Every failure to talk to the server is a :class:`LabelStudioError` naming the URL or the variable and the
fix, raised before anything is written, so that a round whose server is down stays as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd

from cartal.errors import CartalError, listing

#: seconds one HTTP call may take: a server that hangs must not hold a round forever
TIMEOUT = 60.0


class LabelStudioError(CartalError):
    """The Label Studio server does not answer, refuses the token, or holds a project cartal cannot use."""


@dataclass(frozen=True)
class Project:
    """A Label Studio project that holds a run's batches: its id and the tasks in it, as the JSON export gives them."""

    id: int
    title: str
    url: str
    tasks: list[dict]

    def tasks_of(self, ids) -> list[dict]:
        """The tasks whose ``data.id`` is one of ``ids``: a round's batch among every round's tasks."""
        wanted = {str(i) for i in ids}
        return [t for t in self.tasks if str((t.get("data") or {}).get("id")) in wanted]

    @property
    def source(self) -> str:
        """How an error or a wait names where the labels are."""
        return f"Label Studio project {self.title!r} (id {self.id}) at {self.url}"


def project_title(settings, root: Path | None = None) -> str:
    """label_studio.project, or "cartal <folder name>" so that two projects on one server do not share tasks."""
    return settings.project or f"cartal {(root or Path.cwd()).resolve().name}"


def push(settings, batch: pd.DataFrame, model_version: str, labels, root: Path | None = None) -> tuple[Project, int]:
    """Make the project hold a task for every row of ``batch``; return the project and how many tasks were added.

    The project is found by its title, or created with :func:`labeling_config` of ``labels``; one whose
    labeling config lists other labels is refused (its annotations would not fit the dataset). A row whose id
    some task's ``data.id`` already holds is not pushed again: a rerun of the round, or the stage restarted
    after a wait, adds nothing, and the annotations given so far stay on their tasks.
    """
    from cartal.annotation.label_studio import labeling_config, tasks_from_batch

    tasks = tasks_from_batch(batch, model_version)  # a bad batch is refused before the server is asked anything
    with _client(settings) as client:
        project = _project(client, settings, list(labels), labeling_config(list(labels)), root)
        held = {str((t.get("data") or {}).get("id")) for t in project.tasks}
        new = [t for t in tasks if t["data"]["id"] not in held]
        if new:
            client.projects.import_tasks(id=project.id, request=new)
            project = Project(project.id, project.title, project.url, _tasks(client, project.id))
    return project, len(new)


def pull(settings, labels, root: Path | None = None) -> Project:
    """The project with its tasks as they are now, annotations included (read them with ``tasks_of(ids)``).

    The project must exist: a batch is pushed before its labels are pulled, so a missing project means a
    wrong title, another server, or a project deleted by hand.
    """
    with _client(settings) as client:
        return _project(client, settings, list(labels), None, root)


def progress(settings, ids, root: Path | None = None) -> dict:
    """How much of the batch ``ids`` is done in Label Studio: tasks there, labeled, skipped; for `cartal status`."""
    from cartal.annotation.label_studio import labels_from_export

    with _client(settings) as client:
        project = _project(client, settings, None, None, root, missing_ok=True)
    answers = labels_from_export([] if project is None else project.tasks_of(ids), settings.url)
    return {"project": project_title(settings, root), "url": settings.url, "tasks": len(answers),
            "labeled": int(answers["label"].notna().sum()), "skipped": int(answers["skipped"].sum())}


@contextmanager
def _client(settings) -> Iterator:
    """An SDK client with the token from the environment; every failure to reach or use the server turns into
    one LabelStudioError that names the URL or the token's variable and the fix."""
    try:
        import httpx
        from label_studio_sdk import LabelStudio
        from label_studio_sdk.core.api_error import ApiError
    except ImportError as exc:  # an extra: the SDK pulls in opencv and caps numpy below 2.3
        raise LabelStudioError(f"label_studio.url is set, but the Label Studio SDK is not installed ({exc}): "
                               "pip install 'cartal[label-studio]', or set label_studio.url: null to label "
                               "with files") from None

    url, env = settings.url.rstrip("/"), settings.token_env
    token = os.environ.get(env, "").strip()
    if not token:
        raise LabelStudioError(f"label_studio.url is {url}, but the environment variable {env} that holds the API "
                               f"token is not set: export {env}=<your token> (Label Studio: Account & Settings > "
                               "Personal Access Token, or the legacy Access Token); label_studio.token_env names "
                               "another variable")
    try:
        client = LabelStudio(base_url=url, api_key=token, timeout=TIMEOUT)
        client.users.whoami()  # the token is checked once, here, not half-way through a push
        yield client
    except ApiError as exc:
        if exc.status_code in (401, 403):
            raise LabelStudioError(f"Label Studio at {url} refused the API token in {env} ({exc.status_code}: "
                                   f"{_detail(exc.body)}): set {env} to a valid token of that server (Account & "
                                   "Settings in Label Studio)") from None
        raise LabelStudioError(f"Label Studio at {url} answered {exc.status_code}: {_detail(exc.body)}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise LabelStudioError(f"Label Studio at {url} cannot be reached ({type(exc).__name__}: {exc}): start the "
                               "server, or correct label_studio.url in params.yaml (null to label with the files of "
                               "annotations/ instead); the round is left as it was") from None
    except ValueError as exc:  # an answer that is not JSON: something else listens there (a proxy, another app)
        raise LabelStudioError(f"{url} did not answer as Label Studio does ({exc}): check label_studio.url") from None


def _project(client, settings, labels: list[str] | None, config: str | None, root: Path | None,
             missing_ok: bool = False) -> Project | None:
    """The project titled ``project_title``; created with ``config`` if there is none and a config is given
    (None if there is none and ``missing_ok``: nothing is pushed yet)."""
    title = project_title(settings, root)
    found = [p for p in client.projects.list(title=title) if p.title == title]
    url = settings.url.rstrip("/")
    if len(found) > 1:
        raise LabelStudioError(f"Label Studio at {url} holds {len(found)} projects titled {title!r} (ids "
                               f"{listing(p.id for p in found)}): rename all but one, or set label_studio.project")
    if not found:
        if missing_ok:
            return None
        if config is None:
            raise LabelStudioError(f"Label Studio at {url} has no project titled {title!r}: the batch is pushed "
                                   "there by merge-labels (`cartal repro`); check label_studio.project and url")
        created = client.projects.create(title=title, label_config=config,
                                         description="Batches selected by cartal's active learning rounds")
        return Project(created.id, title, url, [])
    project = client.projects.get(id=found[0].id)
    if labels is not None:
        listed = [c.get("value") for c in ElementTree.fromstring(project.label_config).iter("Choice")]
        if listed != labels:
            raise LabelStudioError(f"Label Studio project {title!r} at {url} labels with {listing(listed)}, the "
                                   f"dataset with {listing(labels)}: set label_studio.project to a new title (it is "
                                   "created with the right labeling config), or fix that project's config")
    return Project(project.id, title, url, _tasks(client, project.id))


def _tasks(client, project_id: int) -> list[dict]:
    """Every task of the project as Label Studio's JSON export writes it (what labels_from_export reads)."""
    body = b"".join(client.projects.exports.download_sync(id=project_id, export_type="JSON", download_all_tasks=True))
    tasks = json.loads(body or b"[]")
    if not isinstance(tasks, list):
        raise LabelStudioError(f"Label Studio project {project_id}: the export is not a list of tasks")
    return tasks


def _detail(body) -> str:
    """The server's reason, short, with the fields it refused (a project title of under 3 characters, say)."""
    if isinstance(body, dict):
        refused = body.get("validation_errors")
        body = body.get("detail") or body
        if isinstance(refused, dict) and refused:
            fields = (f"{field}: {' '.join(map(str, why)) if isinstance(why, list) else why}"
                      for field, why in refused.items())
            body = f"{body} ({'; '.join(fields)})"
    return str(body)[:300]
