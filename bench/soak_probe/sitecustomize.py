"""Put on PYTHONPATH by bench/soak.py, so the `serve` it starts samples its own memory."""

import sys

if "serve" in sys.argv[1:2]:
    from bench import memprobe

    memprobe.start()
