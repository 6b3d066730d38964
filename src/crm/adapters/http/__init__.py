"""Outbound HTTP (webhook deliveries) with httpx."""
