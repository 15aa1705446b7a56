"""Local-only tooling (CLI, Meta emulator, embedded AWS stack, dev server, demo).

Not shipped in the Lambda layer."""
