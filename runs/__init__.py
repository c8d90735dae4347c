"""The web app's training runs: the queue, each run's job and record, where it executes (this
process, a child process or a ZeroGPU worker), pausing and stepping, and its export."""
