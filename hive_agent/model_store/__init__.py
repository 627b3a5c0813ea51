"""`models download`: fetch Whisper models, OPUS-MT pairs and Piper voices from a Hugging Face hub."""
