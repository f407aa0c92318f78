"""Reporting: results.json, JUnit, the sign-off page, waivers."""
