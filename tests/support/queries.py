"""GraphQL documents the tests use."""

RESULT = "__typename ... on Error { code message field }"

CREATE_BACKEND = """mutation($input: CreateBackendInput!) { createBackend(input: $input) {
  __typename ... on Backend { id name adapter } ... on Error { code message field } } }"""

START_RUN = """mutation($input: StartRunInput!) { startRun(input: $input) {
  __typename ... on Run { id phase targets { label phase } } ... on Error { code message field } } }"""

RUN = """query($id: ID!) { run(id: $id) { id phase desiredState verdict error ending stuck recoverAttempts
  targets { label phase mayCarryFault nativeStatus error metrics handle }
  events { kind fromPhase toPhase reason target } } }"""

ABORT = """mutation($id: ID!) { abortRun(id: $id, reason: "test") {
  __typename ... on Run { id phase desiredState } ... on Error { code message field } } }"""
PAUSE = """mutation($id: ID!) { pauseRun(id: $id) {
  __typename ... on Run { id desiredState } ... on Error { code message field } } }"""
RESUME = """mutation($id: ID!) { resumeRun(id: $id) {
  __typename ... on Run { id desiredState } ... on Error { code message field } } }"""
FORCE_RELEASE = """mutation($id: ID!, $reason: String!) { forceReleaseRun(id: $id, reason: $reason) {
  __typename ... on Run { id phase } ... on Error { code message field } } }"""
HALT_ALL = """mutation { haltAll(reason: "test") {
  __typename ... on HaltAllResult { count runs { id } } ... on Error { code message field } } }"""
ARCHIVE = """mutation($id: ID!) { archiveRun(id: $id) {
  __typename ... on Run { id archived } ... on Error { code message field } } }"""
RUN_COUNT = """query { runs(filter: {includeArchived: true}) { totalCount } }"""
