"""Test doubles: local stand-ins for systems the tests cannot run for real."""
