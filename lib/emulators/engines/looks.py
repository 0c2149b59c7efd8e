"""The local avatars: who they are and how they look (the art draws from these)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AvatarLook:
    avatar_id: str
    name: str
    default_voice: str  # a VoiceSpec.voice_id from lib.emulators.engines.tts
    pose_name: str
    gender: str  # "female" | "male"
    skin: str
    hair: str
    hair_style: str  # "long_wavy" | "short_fade" | "bun" | "side_part" | "bob"
    iris: str
    lips: str
    outfit: str  # "crew" | "blazer_shirt" | "blazer_crew"
    outfit_color: str
    inner_color: str  # shirt / top under a blazer
    bg_top: str
    bg_bottom: str
    bg_glow: str
    glasses: bool = False
    earrings: bool = False
    beard: bool = False
    freckles: bool = False
    necklace: bool = False


# fmt: off
AVATARS: tuple[AvatarLook, ...] = (
    AvatarLook(
        "Ava_Studio_public", "Ava (studio)", "ava-us", "Ava in studio", "female",
        skin="#efc4a2", hair="#7b3a1f", hair_style="long_wavy", iris="#4f7a4a", lips="#c45a5c",
        outfit="crew", outfit_color="#1d7873", inner_color="#1d7873",
        bg_top="#e9dccb", bg_bottom="#b39c86", bg_glow="#fff4e6", earrings=True, necklace=True,
    ),
    AvatarLook(
        "Marcus_Office_public", "Marcus (office)", "joe-us", "Marcus in the office", "male",
        skin="#8a5636", hair="#1c1512", hair_style="short_fade", iris="#3d2616", lips="#7a453b",
        outfit="blazer_shirt", outfit_color="#22304f", inner_color="#eef1f4",
        bg_top="#c9d6e3", bg_bottom="#6f8297", bg_glow="#f2f7ff", beard=True,
    ),
    AvatarLook(
        "Priya_Newsroom_public", "Priya (newsroom)", "olivia-gb", "Priya at the news desk",
        "female", skin="#b97b52", hair="#17110f", hair_style="bun", iris="#3a2417",
        lips="#9e3d50", outfit="blazer_crew", outfit_color="#9b2335", inner_color="#1d1b20",
        bg_top="#d9c9e6", bg_bottom="#6c4f86", bg_glow="#fbf1ff", earrings=True,
    ),
    AvatarLook(
        "Kenji_Casual_public", "Kenji (casual)", "joe-us", "Kenji at his desk", "male",
        skin="#e9c29c", hair="#16110e", hair_style="side_part", iris="#3b2a1e", lips="#b8736b",
        outfit="crew", outfit_color="#5d6773", inner_color="#5d6773",
        bg_top="#d3e5d8", bg_bottom="#5f8a76", bg_glow="#f4fff6", glasses=True,
    ),
    AvatarLook(
        "Isla_Garden_public", "Isla (garden)", "isla-scot", "Isla in the garden room", "female",
        skin="#f5d6c2", hair="#d6ad62", hair_style="bob", iris="#4a7db3", lips="#cf7584",
        outfit="crew", outfit_color="#e0745a", inner_color="#e0745a",
        bg_top="#f3e6d4", bg_bottom="#c79b7e", bg_glow="#fffaf0", freckles=True,
    ),
)
# fmt: on


def avatar_by_id(avatar_id: str) -> AvatarLook | None:
    return next((a for a in AVATARS if a.avatar_id == avatar_id), None)
