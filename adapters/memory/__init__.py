"""In-memory fakes of every port, for fast unit tests. Held to the same contract suites."""
