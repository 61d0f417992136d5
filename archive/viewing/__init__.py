"""The client-side image viewer: frames served as compact binaries, and the viewer's own script."""
