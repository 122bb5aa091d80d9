"""In-memory stores with the behaviour the services rely on (conditional commits, exact
nearest-neighbour search, seen lookups), so services are unit-tested without Cassandra.
tests/contract/ runs the same tests against these and the Cassandra stores."""
from tests.fakes.behaviour import FakeBehaviourStore
from tests.fakes.experiments import FakeExperimentStore
from tests.fakes.impressions import FakeImpressionStore
from tests.fakes.jobs import FakeJobStore, FakeMetadataStore
from tests.fakes.neighbours import FakeNeighbourStore
from tests.fakes.videos import FakeVideoStore, summary_of
from tests.fakes.view_counts import FakeViewCountStore
from tests.fakes.viewers import FakeViewerStore

__all__ = ["FakeBehaviourStore", "FakeExperimentStore", "FakeImpressionStore", "FakeJobStore",
           "FakeMetadataStore", "FakeNeighbourStore", "FakeVideoStore", "FakeViewCountStore",
           "FakeViewerStore", "summary_of"]
