"""Reports: the person card (360° view), KPIs, charts and exports."""
