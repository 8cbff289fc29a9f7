"""Local fakes of the platforms' HTTP APIs, speaking their real wire formats."""
