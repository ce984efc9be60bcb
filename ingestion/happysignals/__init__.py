"""HappySignals API v2: a client that pages survey responses, and a pull into landing/survey."""
