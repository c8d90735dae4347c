"""What the app allows each visitor: who is calling (by address), how often, how many training places, and which inputs."""
