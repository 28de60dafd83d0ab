"""What the sales app plugs into: menus, pages and customer outputs."""
