"""The docker backend: render (the Dockerfile), context (the wheels, offline), engine (the Engine API), base_images, backend."""
