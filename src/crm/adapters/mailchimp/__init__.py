"""Mailchimp Transactional (formerly Mandrill): transactional email over its JSON API."""
