"""Base data kept current (基础数据资源管理, docs/basedata.md): components and addresses imported and exported in the
city's own coordinate system and formats, components added, edited, moved and retired with their history, and a
component's state following its cases."""
