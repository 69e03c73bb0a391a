"""Test helpers: loopback fakes of the outside world and a live server runner."""
