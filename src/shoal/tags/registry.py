"""What the tags app plugs into: menus, pages, jobs, condition keys, the customer timeline."""
