"""The LiveKit side: a room adapter driving one pipeline per speaker track, and the worker."""
