"""Exception types. Every error a user can cause says what is wrong and how to fix it."""


class CartalError(Exception):
    """Base class of every error cartal raises on purpose."""


class ParamsError(CartalError):
    """params.yaml holds a missing, unknown or invalid key."""


class DataError(CartalError):
    """A dataset is missing, malformed or unusable (columns, empty texts, duplicate ids)."""


class ArtifactError(CartalError):
    """A pipeline artifact is missing, corrupt or does not match its schema."""


class BudgetError(CartalError):
    """A seed set or query batch asks for more instances than there are."""


class UnknownStrategyError(CartalError):
    """The configured query strategy is not registered."""


class LabelsPendingError(CartalError):
    """A human round's batch waits for its labels: not a failure, the pipeline stops until they are given."""


#: the exit code of a stage (and of `cartal repro`) that stops because a batch waits for labels: not 1, so
#: that whoever runs it can tell the wait from a failure
LABELS_PENDING_EXIT = 3


class ProjectError(CartalError):
    """A command that needs a cartal project (dvc.yaml, stages/) was run outside one."""


def listing(values, n: int = 10) -> str:
    """The first ``n`` values for an error message, and how many more there are."""
    values = [str(v) for v in values]
    return ", ".join(values[:n]) + (f" and {len(values) - n} more" if len(values) > n else "")
