"""Personal data in free text and unknown columns: an offline Presidio analyzer for Bulgarian and
Russian, record-aware name detection, scrubbing with typed placeholders, and column discovery."""
