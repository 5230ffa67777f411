"""The application layer: what the API and the CLI do, each operation validated in full
before anything is stored or any tool is called."""
