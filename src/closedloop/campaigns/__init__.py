"""Campaigns with waves and cells, offers, audiences and the contact history."""
