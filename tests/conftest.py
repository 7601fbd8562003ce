"""Test-wide settings: one torch thread per worker, and Prefect isolated from the user's home."""

import os
import tempfile

import torch

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="dynaudit-test-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("DO_NOT_TRACK", "1")
torch.set_num_threads(1)
