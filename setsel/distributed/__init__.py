"""Ray wiring (Data pipelines, Train, Serve). The only package that imports ray."""
